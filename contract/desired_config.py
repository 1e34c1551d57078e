"""A home's desired configuration, as the community server sends it on the box's own ``config``
leaf (retained, QoS 1; only that box may read it): what the server's registry knows better than
the box's TOML — its residents' birth years, thresholds and night hours, whether they are at risk
of getting lost, and the contacts a box pages while the server cannot be reached.

Versioned: the server raises ``version`` with every change; the box validates the document
against its own schema, applies it whole or not at all, and says in its status which version is
in effect (``config_version``) or which it refused and why (``config_refused``). The box keeps
what only it can know (ports, protocols, rooms, placements) in its TOML.

Ids, not names: a contact travels as its role, its order, its phone and its push address (an
Apprise URL, a secret, which is why the leaf is the box's own); never as a person's name. Only
contacts with a push address are sent (a box pages; one it cannot reach is not a contact to it).
"""

from __future__ import annotations

from datetime import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from eldergate.contract.messages import ContactRole, Id, Message

BoxContactRole = ContactRole  # the same roles the box's TOML knows (config/schema.py ContactRole)
Minutes = Annotated[float, Field(ge=60, le=7 * 86_400, allow_inf_nan=False, description="seconds, 1 min to 7 days")]
Rate = Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)]


class ThresholdChanges(BaseModel):
    """The thresholds the server may set; each bounded here, their order (min below max) checked
    by the box's own schema, which refuses the whole document if it is wrong."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    night_start: time | None = None
    night_end: time | None = None
    heart_rate_min_bpm: Rate | None = None
    heart_rate_max_bpm: Rate | None = None
    breathing_rate_min_bpm: Rate | None = None
    breathing_rate_max_bpm: Rate | None = None
    out_of_bed_at_night: Minutes | None = None
    long_lie_after: Minutes | None = None
    inactivity_after: Minutes | None = None
    outing_usual: Minutes | None = None

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_none=True)


class DesiredContact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    order: int = Field(ge=1, le=99)
    role: BoxContactRole
    phone: str = Field("", max_length=30, pattern=r"^[0-9+() -]*$", description="to call, shown by the box")
    notify: str = Field(min_length=3, max_length=500, pattern=r"^[a-z][a-z0-9+.-]*://\S+$",
                        description="an Apprise URL")


class DesiredResident(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Id
    birth_year: int | None = Field(None, ge=1900, le=2100)
    at_risk_of_getting_lost: bool | None = None
    thresholds: ThresholdChanges = Field(default_factory=ThresholdChanges)
    contacts: list[DesiredContact] | None = Field(None, max_length=10,
                                                  description="None: the box keeps its own; a list replaces them")


class ConfigMessage(Message):
    """server -> box, on ``<prefix>/<site>/<gateway>/config``, retained."""

    version: int = Field(ge=1, le=2**31 - 1)
    residents: list[DesiredResident] = Field(default_factory=list, max_length=16)
