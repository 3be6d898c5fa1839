"""The GraphQL schema the simulator serves: a small, faithful subset of GitHub's public schema.

Every type, field and argument below exists in GitHub's schema with the same name, type and
nullability, and no argument GitHub requires is missing (tests/test_simulator_graphql.py checks
this against GitHub's published `schema.graphql`:
https://docs.github.com/en/graphql/overview/public-schema). So a query the simulator accepts,
GitHub accepts too; a bot tested here cannot come to depend on a field GitHub does not have.
What is left out: every other type and field, and all mutations (the bot reads by GraphQL and
writes only through its guarded REST client).
"""

from __future__ import annotations

import functools

from graphql import GraphQLSchema, build_schema

SDL = '''
"""An ISO-8601 encoded UTC date string."""
scalar DateTime

type Query {
  """Lookup nodes by a list of IDs."""
  nodes(ids: [ID!]!): [Node]!
  """Fetches an object given its ID."""
  node(id: ID!): Node
  """The client's rate limit information."""
  rateLimit(dryRun: Boolean = false): RateLimit
}

interface Node {
  id: ID!
}

interface Actor {
  login: String!
}

type User implements Node & Actor {
  id: ID!
  databaseId: Int
  login: String!
}

type Bot implements Node & Actor {
  id: ID!
  databaseId: Int
  login: String!
}

type IssueComment implements Node {
  id: ID!
  databaseId: Int
  body: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  author: Actor
  reactions(
    after: String
    before: String
    content: ReactionContent
    first: Int
    last: Int
  ): ReactionConnection!
}

enum ReactionContent {
  THUMBS_UP
  THUMBS_DOWN
  LAUGH
  HOORAY
  CONFUSED
  HEART
  ROCKET
  EYES
}

type Reaction implements Node {
  id: ID!
  databaseId: Int
  content: ReactionContent!
  createdAt: DateTime!
  """The user who created this reaction; null for an app's bot, which is not a User."""
  user: User
}

type ReactionConnection {
  edges: [ReactionEdge]
  nodes: [Reaction]
  pageInfo: PageInfo!
  totalCount: Int!
}

type ReactionEdge {
  cursor: String!
  node: Reaction
}

type PageInfo {
  endCursor: String
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
}

type RateLimit {
  cost: Int!
  limit: Int!
  nodeCount: Int!
  remaining: Int!
  resetAt: DateTime!
  used: Int!
}
'''


@functools.cache
def schema() -> GraphQLSchema:
    """Built on first use, not at import; the same object afterwards."""
    return build_schema(SDL)
