"""The launcher's local Redis: used as found when one answers, else started and stopped by us."""
import pytest
import redis

from core.launcher import local_redis, redis_answers
from tests.conftest import REDIS_URL, free_port


def test_an_answering_redis_is_used_as_it_is(tmp_path):
    with local_redis(REDIS_URL, tmp_path / "redis.log") as started:
        assert started is None
    assert not (tmp_path / "redis.log").exists()
    assert redis_answers(REDIS_URL)


def test_without_redis_a_local_server_runs_for_the_duration(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not redis_answers(url)
    with local_redis(url, tmp_path / "redis.log") as started:
        assert started is not None and started.poll() is None
        client = redis.Redis.from_url(url)
        client.set("probe", "1")
        assert client.get("probe") == b"1"
        client.close()
    assert started.poll() is not None
    assert not redis_answers(url)


def test_a_remote_redis_that_does_not_answer_is_reported_not_started(tmp_path):
    with pytest.raises(SystemExit, match="does not answer"):
        with local_redis("redis://redis.invalid:6390/0", tmp_path / "redis.log"):
            pass
