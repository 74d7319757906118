# idgraph API / loader image. Used by docker-compose.yml (services `api` and `loader`);
# the command is chosen there, the default serves the GraphQL API on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# Only what the wheel is built from (see [tool.hatch.build] in pyproject.toml), so local
# state such as .services/, .venv/ or *.db files never ends up in the image.
COPY pyproject.toml README.md ./
COPY app ./app
COPY loaders ./loaders
COPY graph_schema ./graph_schema
RUN pip install . \
    && cd / && rm -rf /src

RUN useradd --create-home --uid 10001 idgraph
USER idgraph
WORKDIR /home/idgraph

EXPOSE 8000
CMD ["idgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
