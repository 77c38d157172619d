"""The API's routes, one APIRouter per concern: the page, the service's state, predictions."""
