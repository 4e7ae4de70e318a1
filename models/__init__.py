"""Persistence foundation: settings, database engine and sessions, ORM classes, migrations."""

from models.articles import Article, ArticleChunk, ArticleRevision
from models.artifacts import ArtifactVersion
from models.base import Base
from models.feedback import Feedback
from models.jobs import Job
from models.portal import PortalEvent, PortalSuggestion
from models.tickets import Suggestion, Ticket

__all__ = (
    "Article",
    "ArticleChunk",
    "ArticleRevision",
    "ArtifactVersion",
    "Base",
    "Feedback",
    "Job",
    "PortalEvent",
    "PortalSuggestion",
    "Suggestion",
    "Ticket",
)
