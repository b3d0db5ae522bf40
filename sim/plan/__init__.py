"""``revsim plan``: search hiring plans under uncertainty (space, evaluate, search,
validate, output, figures, report; the command in ``command.py``)."""
