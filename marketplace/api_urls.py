from django.urls import path

from marketplace import api

app_name = "storefront"

urlpatterns = [
    path("sellers/", api.SellerSyncApi.as_view(), name="seller-sync"),
    path("sellers/bulk/", api.SellerSyncBulkApi.as_view(), name="seller-sync-bulk"),
    path("buyers/", api.BuyerSyncApi.as_view(), name="buyer-sync"),
    path("buyers/bulk/", api.BuyerSyncBulkApi.as_view(), name="buyer-sync-bulk"),
    path("listings/", api.ListingSyncApi.as_view(), name="listing-sync"),
    path("listings/bulk/", api.ListingSyncBulkApi.as_view(), name="listing-sync-bulk"),
    path("orders/", api.OrderSyncApi.as_view(), name="order-sync"),
    path("orders/bulk/", api.OrderSyncBulkApi.as_view(), name="order-sync-bulk"),
    path("orders/status/", api.OrderStatusSyncApi.as_view(), name="order-status-sync"),
    path("orders/status/bulk/", api.OrderStatusSyncBulkApi.as_view(), name="order-status-sync-bulk"),
    path("reviews/", api.ReviewSyncApi.as_view(), name="review-sync"),
    path("reviews/bulk/", api.ReviewSyncBulkApi.as_view(), name="review-sync-bulk"),
    path("events/", api.EngagementEventSyncApi.as_view(), name="engagement-event-sync"),
    path("events/bulk/", api.EngagementEventSyncBulkApi.as_view(), name="engagement-event-sync-bulk"),
]
