# The one image behind every ktpledger service of docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY ktpledger ./ktpledger
COPY workers ./workers
RUN pip install --no-cache-dir -e .
ENV PYTHONUNBUFFERED=1
USER nobody
ENTRYPOINT ["ktpledger"]
