"""Public request and response models of ``/v1``, kept apart from the tables."""
