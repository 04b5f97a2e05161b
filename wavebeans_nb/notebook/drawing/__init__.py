"""Inline Graphviz drawings of topologies, pods and distribution plans.

``draw_topology(topology)``, ``draw_pods(pods)`` and ``draw_plan(plan)``
return a :class:`Drawing`: DOT text (``.dot``) that Jupyter shows as an SVG
(``.svg()``), or as text with an install hint when no Graphviz renderer is
available.
"""

from .graphs import draw, draw_plan, draw_pods, draw_topology, mimebundle
from .render import INSTALL_HINT, Drawing, RenderError, RendererNotFoundError, render_dot, renderer_name

__all__ = [
    "Drawing", "draw", "draw_topology", "draw_pods", "draw_plan", "mimebundle",
    "render_dot", "renderer_name", "RendererNotFoundError", "RenderError", "INSTALL_HINT",
]
