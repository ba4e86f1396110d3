"""What the database holds, as text: for checking that the driver-level bulk paths store
exactly what the models would."""

from __future__ import annotations

from sqlalchemy import text


def raw_rows(session, model, values: list[str], skip: tuple[str, ...] = ()) -> list[tuple]:
    """Rows of these values exactly as the database holds them, as text (id, value left out)."""
    columns = ", ".join(
        f'CAST("{column.name}" AS TEXT)'
        for column in model.__table__.c
        if column.name not in ("id", "value", *skip)
    )
    listed = ", ".join(f"'{value}'" for value in values)
    statement = f"SELECT {columns} FROM {model.__tablename__} WHERE value IN ({listed})"
    return sorted(session.execute(text(statement)).all())
