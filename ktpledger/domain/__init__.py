"""Pure KTP rules and folds over events: standard library only, no I/O."""
