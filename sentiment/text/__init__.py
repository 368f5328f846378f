"""Text: splitting into sentences, tokenizing, vocabularies and per-token lexicon features."""
