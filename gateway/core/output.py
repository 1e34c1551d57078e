"""What the home's pipeline hands to the sinks: any reading, observation, event, alert or summary."""

from __future__ import annotations

from eldergate.drivers.readings import Reading
from eldergate.gateway.core.alerts import Alert
from eldergate.signal.model import Event, Observation
from eldergate.signal.summary import DailySummary

Output = Reading | Observation | Event | Alert | DailySummary
