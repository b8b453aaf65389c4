"""Each chapter's bookkeeping, out of the reading path: the numbers its Markdown shows and
the claims its sentences make, one module a chapter (``ch1_data`` ... ``ch4_keras``)."""
