"""Finding rules: which spans are findings (denials, demands, one per sentence, the same topic) and
how a yes/no question is answered from evidence."""
