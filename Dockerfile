# Build: docker build -t singlewindow .
# Migrate once per rollout:  docker run --rm -e SW_DATABASE_URL=... singlewindow singlewindow migrate
# Serve:                     docker run -e SW_DATABASE_URL=... -p 8000:8000 singlewindow
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app/ app/
COPY migrations/ migrations/
COPY alembic.ini ./
COPY xsd/ xsd/
RUN pip install -e . && useradd --system --uid 10001 app
USER app
EXPOSE 8000
# Migrations are a separate step (see above), never run by every replica at start.
CMD ["uvicorn", "app.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
