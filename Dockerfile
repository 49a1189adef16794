# The one image behind every ktpledger service of docker-compose.yml: ktpledger installed from its
# wheel, not editable, as tests/test_wheel.py installs it, so the image holds no sources to run
# instead of the package. The migrations come in the wheel (ktpledger/_migrations links alembic/).
FROM python:3.11-slim
COPY pyproject.toml README.md /src/
COPY alembic /src/alembic
COPY ktpledger /src/ktpledger
COPY workers /src/workers
RUN pip install --no-cache-dir /src && rm -rf /src
WORKDIR /app
ENV PYTHONUNBUFFERED=1
USER nobody
ENTRYPOINT ["ktpledger"]
