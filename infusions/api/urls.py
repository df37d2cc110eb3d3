from __future__ import annotations

from rest_framework.routers import SimpleRouter

from infusions.api import views

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("protocols", views.ProtocolViewSet, basename="protocol")
router.register("centers", views.CenterViewSet, basename="center")
router.register("chairs", views.ChairViewSet, basename="chair")

urlpatterns = router.urls
