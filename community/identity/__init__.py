"""Who may speak for a box: identities, claims, the broker's access lists and the community CA."""
