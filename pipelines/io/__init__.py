"""Reading inputs and writing outputs: record readers, input listing, shards, manifest, report."""
