"""Stand-ins in the training data: what makes a run differ from the paper's setting.

Two stores can hold stand-ins for the paper's inputs, and a run trained on them must say so:

* the fit stores' 3DMM learned from the training split's landmarks (``morphable_model.source:
  learned``, fit root attribute ``model`` = ``learned``) instead of LSFM;
* the audio stores' DeepSpeech columns 84–299 all zero (``audio.deepspeech.mode: none``, root
  attribute ``config.deepspeech.mode``) instead of DeepSpeech's character probabilities.

The trainer logs each found as a warning when it starts and records them in its checkpoints, in
``generator.pt`` and as TensorBoard text, so that no result made on stand-ins passes as the paper's.
"""

from __future__ import annotations

import zarr

from headgan_prep.dataset.reader import DatasetReader


def _root_attributes(reader: DatasetReader, stage: str) -> list[dict]:
    """Root attributes of every store of ``stage`` the index names (each store once)."""
    paths = sorted({clip["stores"][stage] for clip in reader.clips})
    return [dict(zarr.open_group(str(reader.results / path), mode="r").attrs) for path in paths]


def find_stand_ins(reader: DatasetReader) -> list[str]:
    """The stand-ins the index's stores hold, one sentence each (empty: the paper's inputs).

    Parameters
    ----------
    reader : DatasetReader
        The training split's index.

    Returns
    -------
    list of str
        In the order: the learned 3DMM, the zero DeepSpeech columns (those present).
    """
    found = []
    fits = _root_attributes(reader, "fit")
    learned = [attrs for attrs in fits if attrs.get("model") == "learned"]
    if learned:
        found.append(
            f"3DMM: the model learned from the training split's landmarks (morphable_model.source: learned; "
            f"{len(learned)} of {len(fits)} fit stores), not LSFM as in the paper"
        )
    audio = _root_attributes(reader, "audio")
    zero = [attrs for attrs in audio if attrs.get("config", {}).get("deepspeech", {}).get("mode") == "none"]
    if zero:
        found.append(
            f"audio: DeepSpeech columns 84–299 all zero (audio.deepspeech.mode: none; {len(zero)} of {len(audio)} "
            "audio stores), not DeepSpeech's character probabilities as in the paper"
        )
    return found
