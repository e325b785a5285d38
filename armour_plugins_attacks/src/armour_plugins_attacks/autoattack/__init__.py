"""The AutoAttack family: APGD, APGD-T and the AutoAttack ensemble.

Row bookkeeping every member follows:

* Attacks work on the rows still to attack, compacted and padded to a power-of-two size
  (:func:`armour_core.api.batching.pad_to_bucket`), so a compiled graph sees few distinct shapes however
  many rows remain.
* Random draws are made for the *whole* batch and then indexed, so a sample's random start (or Square
  window) depends only on the seed and its position in the batch — not on which other rows are still
  active. That makes an attack run inside AutoAttack (on the rows still robust) follow the very same
  trajectory as the attack run alone, hence AutoAttack's robust accuracy is at most each member's.

Implementation modules import MindSpore or SciPy on use; ``records`` and ``configs`` stay light."""
