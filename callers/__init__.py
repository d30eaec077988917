"""Who is calling: normalisation of caller IDs and typed phone numbers."""
