"""Other tools' formats: STIX 2.1 objects, TAXII 2.1 envelopes and the MISP feed, all pure."""
