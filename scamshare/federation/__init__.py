"""Federation: node identity, signed batches, push to peers and apply from them."""
