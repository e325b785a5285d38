"""Robustness evaluation: attack and defense metrics, ``evaluate_robustness`` and its report.

Importing this package does not import MindSpore (the metrics are numpy; models are only called).
"""

from .metrics import (AttackMetrics, BlackBoxDefenseMetrics, DefenseMetrics, attack_metrics,
                      blackbox_defense_metrics, defense_metrics, js_divergence, radar_plot, ssim)
from .robustness import AttackRun, ReliabilityWarning, RobustnessReport, evaluate_models, evaluate_robustness

__all__ = ["AttackMetrics", "AttackRun", "BlackBoxDefenseMetrics", "DefenseMetrics", "ReliabilityWarning",
           "RobustnessReport", "attack_metrics", "blackbox_defense_metrics", "defense_metrics",
           "evaluate_models", "evaluate_robustness", "js_divergence", "radar_plot", "ssim"]
