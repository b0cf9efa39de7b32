"""Maps without a base map: views fitted to the points they show."""

import math

import pandas as pd
import pydeck as pdk

# Never closer than a neighbourhood, so a handful of customers keeps its surroundings.
CLOSEST_ZOOM = 13
# Zoomed out a little beyond the tightest fit, so the outermost points are not on the edge.
MARGIN_ZOOM = 0.3


def fitted_view(
    lat: pd.Series, lon: pd.Series, *, height_px: int, width_px: int = 700
) -> pdk.ViewState:
    """A view centred on the customers' bounding box and zoomed to show all of it.

    deck.gl's Web-Mercator zoom z shows 512·2^z pixels per 360° of longitude; latitude spans
    stretch by 1/cos(latitude). Never closer than a neighbourhood, so a few customers keep context.
    """
    centre_lat = (lat.min() + lat.max()) / 2
    centre_lon = (lon.min() + lon.max()) / 2
    lon_span = max(lon.max() - lon.min(), 1e-3)
    lat_span = max(lat.max() - lat.min(), 1e-3) / math.cos(math.radians(centre_lat))
    zoom_lon = math.log2(width_px * 360 / (512 * lon_span))
    zoom_lat = math.log2(height_px * 360 / (512 * lat_span))
    zoom = min(zoom_lon, zoom_lat, CLOSEST_ZOOM) - MARGIN_ZOOM
    return pdk.ViewState(latitude=float(centre_lat), longitude=float(centre_lon), zoom=zoom)
