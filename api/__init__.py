"""HTTP only: the Litestar app factory, controllers, schemas, the error map and the lifespan."""
