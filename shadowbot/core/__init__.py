"""Pure decisions: the rule engine, settlement, the ledger and rule states. No database,
no HTTP, no clock reads: every function here takes what it needs and returns a value."""
