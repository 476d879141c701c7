"""The policy gate: which proposals run on their own and which wait for a human (DESIGN §4)."""

from agents.policy.gate import GateOutcome, Proposal, Verdict, evaluate
from agents.policy.model import Policy, PolicyError, load_policy

__all__ = ["GateOutcome", "Policy", "PolicyError", "Proposal", "Verdict", "evaluate", "load_policy"]
