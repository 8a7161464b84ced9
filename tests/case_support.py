"""Shared evidence for triage tests: the ordinary night cramp that new rules must leave alone."""

from __future__ import annotations

# A typical idiopathic night cramp: sudden, in one calf, eased by stretching. Rules for dangerous
# presentations are tested on top of it and must not fire on it alone.
NIGHT_CRAMP = {
    "muscle_cramps": "present",
    "nocturnal_leg_cramps": "present",
    "localised_to_one_muscle": "present",
    "relieved_by_stretching": "present",
    "onset_sudden": "present",
}
