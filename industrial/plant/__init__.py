"""The plant as data: the contract (types, ids, columns, limits), its generator and the seeder."""
