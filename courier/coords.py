"""WGS-84 <-> GCJ-02 (the offset datum of Chinese map apps), vectorised.

GCJ-02 is WGS-84 plus a smooth, deterministic offset of a few hundred metres inside mainland
China (none outside). The forward formula is public; the inverse has no closed form, so it is
found by fixed-point iteration, which converges to well under a millimetre in a few steps.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid the offset is defined on
_EE = 0.00669342162296594323  # its first eccentricity squared

ArrayLike = npt.ArrayLike
Floats = npt.NDArray[np.float64]


def _in_china(lon: Floats, lat: Floats) -> npt.NDArray[np.bool_]:
    # The offset applies only inside a rough box around mainland China, as in the apps.
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offset(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Return GCJ-02 lon/lat (degrees) for WGS-84 lon/lat (degrees)."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _offset(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, *, iterations: int = 8) -> tuple[Floats, Floats]:
    """Return WGS-84 lon/lat (degrees) for GCJ-02 lon/lat, by fixed-point iteration."""
    g_lon = np.asarray(lon, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(iterations):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        w_lon = w_lon - (f_lon - g_lon)
        w_lat = w_lat - (f_lat - g_lat)
    return w_lon, w_lat


# BD-09 (Baidu Maps) is GCJ-02 turned by a small, public rotation and shift.
_X_PI = np.pi * 3000.0 / 180.0


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Return GCJ-02 lon/lat (degrees) for BD-09 (Baidu) lon/lat (degrees)."""
    x = np.asarray(lon, dtype=np.float64) - 0.0065
    y = np.asarray(lat, dtype=np.float64) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Return BD-09 lon/lat (degrees) for GCJ-02 lon/lat (degrees)."""
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def to_wgs84(lon: ArrayLike, lat: ArrayLike, datum: str) -> tuple[Floats, Floats]:
    """Return WGS-84 lon/lat for points in ``datum``: wgs84 (or auto), gcj02 or bd09."""
    if datum == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if datum == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
