import pytest

from core.masterkey import load_master_key
from services.identity.apps import SCOPES, Apps
from tests.support.mesh import start_mesh
from tests.support.signed import SignedClient


@pytest.fixture(scope="session")
def mesh(platform_env):
    running = start_mesh(platform_env)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def apps(mesh) -> Apps:
    ctx = mesh.contexts["identity"]
    return Apps(ctx.sessions, load_master_key(ctx.settings))


@pytest.fixture(scope="session")
def client(mesh, apps):
    created = apps.create("integration", SCOPES)
    signed = SignedClient(mesh.base_url, created.app.app_id, created.secret)
    yield signed
    signed.close()
