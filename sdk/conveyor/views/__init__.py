"""View models shared by the web dashboard and the terminal: what each screen shows,
computed from an SDK client at a bounded cost per refresh. Pure where it can be."""

from .overview import Overview, build_overview
from .source import DashboardSource, Snapshot
from .tasks import TaskDetail, TaskQuery, list_tasks, task_detail
from .tenants import TenantRow, build_tenants
from .timeline import Timeline, build_timeline

__all__ = [
    "DashboardSource",
    "Overview",
    "Snapshot",
    "TaskDetail",
    "TaskQuery",
    "TenantRow",
    "Timeline",
    "build_overview",
    "build_tenants",
    "build_timeline",
    "list_tasks",
    "task_detail",
]
