"""Named-entity spans on Label Studio ``Text``: tokens with character offsets, BIO tags, a CRF, sequence uncertainty.

The modules here know nothing about Label Studio's HTTP side or the service; the task type
(``labelsieve.tasktypes.spans``) adapts them to the task-type contract.
"""
