"""Procedural textures defined over 3D points in a local frame, and the mild shading of the demo.

A texture moves with the surface it is defined on (object or plane), so tracked points keep their
colour. Colours are floats in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Texture:
    """Procedural texture over 3D points in a local frame: a checker plus a few random sines.

    dark, light: [3] colours in [0,1]; checker: cell size (m); freqs: [M,3] rad/m; phases: [M].
    """

    dark: np.ndarray
    light: np.ndarray
    checker: float
    freqs: np.ndarray
    phases: np.ndarray

    def colour(self, points: np.ndarray) -> np.ndarray:
        """Local points [N,3] (m) -> colours [N,3] in [0,1]."""
        cells = np.floor(points / self.checker).astype(np.int64).sum(axis=1) & 1
        waves = np.sin(points @ self.freqs.T + self.phases).mean(axis=1)  # [-1, 1]
        value = np.clip(0.3 * cells + 0.7 * (0.5 + 1.2 * waves), 0.0, 1.0)
        return self.dark + value[:, None] * (self.light - self.dark)


def random_texture(rng: np.random.Generator, base: np.ndarray, checker: float,
                    wavelengths: tuple[float, float], num_waves: int = 4) -> Texture:
    """High-contrast texture around colour `base` [3], wavelengths (min, max) in metres."""
    directions = rng.normal(size=(num_waves, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    lengths = rng.uniform(*wavelengths, size=num_waves)
    return Texture(dark=0.15 * base, light=np.clip(0.35 + 0.75 * base, 0, 1), checker=checker,
                    freqs=directions * (2 * np.pi / lengths)[:, None],
                    phases=rng.uniform(0, 2 * np.pi, size=num_waves))


def shade(albedo: np.ndarray, normals: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Lambertian term kept mild so the texture dominates. albedo [N,3], normals [N,3] unit."""
    lambert = np.clip(np.abs(normals @ light), 0.0, 1.0)
    return albedo * (0.65 + 0.35 * lambert)[:, None]
