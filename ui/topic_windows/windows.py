"""The windows the page can draw, each by its code, in the order they are shown."""

from ui.topic_windows import business, campaigns, collection, service

RENDERERS = {
    "business": business.render,
    "collection": collection.render,
    "service": service.render,
    "campaigns": campaigns.render,
}
