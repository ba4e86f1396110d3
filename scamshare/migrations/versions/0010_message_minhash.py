"""message minhash: MinHash signatures and LSH bands in place of the 64-bit SimHash

Revision ID: 0010
Revises: 0009

Message indicators kept a 16-hex-digit SimHash in facts["signature"] and 66 combination bands
in message_bands. Both are recomputed from the stored template (facts["template"], which is
what either signature hashes) with scamshare.normalise.signature: the MinHash values replace
the SimHash in the facts and each indicator's bands are replaced by its LSH bands. Indicators
learnt only from peers get their bands too.

The band index becomes (band, indicator_id), covering: a check reads a band's newest
indicators from the index alone, however many templates share the band.

Downgrade recomputes the SimHash and its bands with a copy of the old code kept below, so a
node rolled back to the previous release finds near-duplicates as it did.
"""

import hashlib
import itertools
import operator
from collections import Counter

import sqlalchemy as sa
from alembic import op

from scamshare.normalise import signature as minhash

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_CHUNK = 2000
_indicators = sa.table(
    'indicators',
    sa.column('id', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('facts', sa.JSON),
)
_bands = sa.table(
    'message_bands', sa.column('indicator_id', sa.Integer), sa.column('band', sa.String)
)


def upgrade() -> None:
    """Replace every message indicator's SimHash and bands with its MinHash and LSH bands."""
    with op.batch_alter_table('message_bands', schema=None) as batch_op:
        batch_op.drop_index('ix_message_bands_band')
        batch_op.create_index('ix_message_bands_band', ['band', 'indicator_id'], unique=False)
    _recompute(minhash.signature, minhash.signature_bands)


def downgrade() -> None:
    """Put back the SimHash, its bands and the band index of revision 0002."""
    _recompute(lambda template: f'{_simhash(template):016x}', _simhash_bands)
    with op.batch_alter_table('message_bands', schema=None) as batch_op:
        batch_op.drop_index('ix_message_bands_band')
        batch_op.create_index('ix_message_bands_band', ['band'], unique=False)


def _recompute(sign, bands_of) -> None:
    """Rewrite the signature in the facts and the band rows of every message indicator."""
    bind = op.get_bind()
    update = (
        _indicators.update()
        .where(_indicators.c.id == sa.bindparam('row_id'))
        .values(facts=sa.bindparam('new_facts'))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(_indicators.c.id, _indicators.c.facts)
            .where(_indicators.c.kind == 'message', _indicators.c.id > last)
            .order_by(_indicators.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        changed, band_rows = [], []
        for row in rows:
            facts = dict(row.facts or {})
            template = facts.get('template')
            if template is None:
                continue
            facts['signature'] = sign(template)
            changed.append({'row_id': row.id, 'new_facts': facts})
            band_rows.extend(
                {'indicator_id': row.id, 'band': band} for band in bands_of(facts['signature'])
            )
        ids = [row.id for row in rows]
        bind.execute(_bands.delete().where(_bands.c.indicator_id.in_(ids)))
        if changed:
            bind.execute(update, changed)
        if band_rows:
            bind.execute(_bands.insert(), band_rows)
        last = rows[-1].id


# The SimHash of revisions 0002 to 0008, kept only for downgrade.
_SHINGLE_SIZE = 4
_SIGNATURE_BITS = 64
_BLOCK_COUNT = 12
_BAND_BLOCKS = _BLOCK_COUNT - 10


def _simhash(template: str) -> int:
    """The 64-bit SimHash of a template's character 4-grams, weighted by repetition."""
    if len(template) <= _SHINGLE_SIZE:
        shingles = Counter([template])
    else:
        shingles = Counter(
            template[start : start + _SHINGLE_SIZE]
            for start in range(len(template) - _SHINGLE_SIZE + 1)
        )
    counters = [0] * _SIGNATURE_BITS
    total = 0
    for shingle, weight in shingles.items():
        digest = hashlib.blake2b(shingle.encode('utf-8', 'surrogatepass'), digest_size=8).digest()
        value = int.from_bytes(digest, 'little')
        for bit in range(_SIGNATURE_BITS):
            if value >> bit & 1:
                counters[bit] += weight
        total += weight
    return sum(1 << bit for bit in range(_SIGNATURE_BITS) if 2 * counters[bit] > total)


def _simhash_bands(signature: str) -> list[str]:
    """The SimHash's band keys, as revision 0008's code made them."""
    widths = [
        _SIGNATURE_BITS // _BLOCK_COUNT + (index < _SIGNATURE_BITS % _BLOCK_COUNT)
        for index in range(_BLOCK_COUNT)
    ]
    blocks_at = [(sum(widths[:i]), (1 << widths[i]) - 1) for i in range(_BLOCK_COUNT)]
    value = int(signature, 16)
    blocks = [f'{(value >> shift) & mask:02x}' for shift, mask in blocks_at]
    return [
        f'{number:02x}' + ''.join(operator.itemgetter(*combination)(blocks))
        for number, combination in enumerate(
            itertools.combinations(range(_BLOCK_COUNT), _BAND_BLOCKS)
        )
    ]
