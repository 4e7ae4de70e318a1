"""Persistence foundation: settings, database engine and sessions, ORM classes, migrations."""

from models.access import ApiKey
from models.articles import Article, ArticleChunk, ArticleRevision
from models.artifacts import ArtifactVersion
from models.assist import AssistFeedback, IncidentEvent, Macro
from models.audit import AuditEvent
from models.base import Base
from models.connectors import ConnectorInbound, HelpdeskConnector
from models.erasure import Erasure
from models.feedback import Feedback
from models.fields import FieldConfigVersion
from models.jobs import Job
from models.limits import RateWindow
from models.mail import InboundMail, TicketMessage
from models.outbox import OutboxEvent, WebhookDelivery, WebhookSubscription
from models.portal import PortalEvent, PortalSuggestion
from models.secrets import DeploymentSecret
from models.sla import SlaPolicyVersion, TicketSla
from models.tickets import Suggestion, Ticket

__all__ = (
    "ApiKey",
    "Article",
    "ArticleChunk",
    "ArticleRevision",
    "ArtifactVersion",
    "AssistFeedback",
    "AuditEvent",
    "Base",
    "ConnectorInbound",
    "DeploymentSecret",
    "Erasure",
    "Feedback",
    "FieldConfigVersion",
    "HelpdeskConnector",
    "InboundMail",
    "IncidentEvent",
    "Job",
    "Macro",
    "OutboxEvent",
    "PortalEvent",
    "PortalSuggestion",
    "RateWindow",
    "SlaPolicyVersion",
    "Suggestion",
    "Ticket",
    "TicketMessage",
    "TicketSla",
    "WebhookDelivery",
    "WebhookSubscription",
)
