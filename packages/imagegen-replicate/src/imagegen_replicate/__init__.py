"""imagegen-replicate: the Replicate backend for imagegen (being built; see issue 4)."""
