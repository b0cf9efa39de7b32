"""The windows the page can draw, each by its code, in the order they are shown."""

from ui.topic_windows import abnormal, business, campaigns, collection, service

RENDERERS = {
    "business": business.render,
    "collection": collection.render,
    "service": service.render,
    "abnormal": abnormal.render,
    "campaigns": campaigns.render,
}
