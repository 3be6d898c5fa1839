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
  """Lookup a given repository by the owner and repository name."""
  repository(followRenames: Boolean = true, name: String!, owner: String!): Repository
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
  authorAssociation: CommentAuthorAssociation!
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

"""A Git object ID."""
scalar GitObjectID

interface GitObject {
  id: ID!
  oid: GitObjectID!
}

enum CommentAuthorAssociation {
  COLLABORATOR
  CONTRIBUTOR
  FIRST_TIMER
  FIRST_TIME_CONTRIBUTOR
  MANNEQUIN
  MEMBER
  NONE
  OWNER
}

type Repository implements Node {
  id: ID!
  nameWithOwner: String!
  """A Git object in the repository: `expression` is `rev:path` for a file."""
  object(expression: String, oid: GitObjectID): GitObject
  collaborators(
    affiliation: CollaboratorAffiliation
    after: String
    before: String
    first: Int
    last: Int
  ): RepositoryCollaboratorConnection
  pullRequests(
    after: String
    baseRefName: String
    before: String
    first: Int
    last: Int
    orderBy: IssueOrder
    states: [PullRequestState!]
  ): PullRequestConnection!
}

enum CollaboratorAffiliation {
  ALL
  DIRECT
  OUTSIDE
}

enum RepositoryPermission {
  ADMIN
  MAINTAIN
  READ
  TRIAGE
  WRITE
}

type RepositoryCollaboratorConnection {
  edges: [RepositoryCollaboratorEdge]
  nodes: [User]
  pageInfo: PageInfo!
  totalCount: Int!
}

type RepositoryCollaboratorEdge {
  cursor: String!
  node: User!
  permission: RepositoryPermission!
}

input IssueOrder {
  direction: OrderDirection!
  field: IssueOrderField!
}

enum IssueOrderField {
  COMMENTS
  CREATED_AT
  UPDATED_AT
}

enum OrderDirection {
  ASC
  DESC
}

enum PullRequestState {
  CLOSED
  MERGED
  OPEN
}

type PullRequestConnection {
  edges: [PullRequestEdge]
  nodes: [PullRequest]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestEdge {
  cursor: String!
  node: PullRequest
}

type PullRequest implements Node {
  id: ID!
  number: Int!
  title: String!
  body: String!
  author: Actor
  authorAssociation: CommentAuthorAssociation!
  baseRefName: String!
  """The base branch's commit when the pull request was opened, here."""
  baseRefOid: GitObjectID!
  headRefOid: GitObjectID!
  createdAt: DateTime!
  updatedAt: DateTime!
  closedAt: DateTime
  mergedAt: DateTime
  isDraft: Boolean!
  merged: Boolean!
  mergeCommit: Commit
  state: PullRequestState!
  files(after: String, before: String, first: Int, last: Int): PullRequestChangedFileConnection
  timelineItems(
    after: String
    before: String
    first: Int
    itemTypes: [PullRequestTimelineItemsItemType!]
    last: Int
    since: DateTime
  ): PullRequestTimelineItemsConnection!
}

enum PatchStatus {
  ADDED
  CHANGED
  COPIED
  DELETED
  MODIFIED
  RENAMED
}

type PullRequestChangedFile {
  path: String!
  additions: Int!
  deletions: Int!
  changeType: PatchStatus!
}

type PullRequestChangedFileConnection {
  edges: [PullRequestChangedFileEdge]
  nodes: [PullRequestChangedFile]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestChangedFileEdge {
  cursor: String!
  node: PullRequestChangedFile
}

"""Every item type GitHub has; the simulator holds those of the union below."""
enum PullRequestTimelineItemsItemType {
  ADDED_TO_MERGE_QUEUE_EVENT
  ADDED_TO_PROJECT_EVENT
  ASSIGNED_EVENT
  AUTOMATIC_BASE_CHANGE_FAILED_EVENT
  AUTOMATIC_BASE_CHANGE_SUCCEEDED_EVENT
  AUTO_MERGE_DISABLED_EVENT
  AUTO_MERGE_ENABLED_EVENT
  AUTO_REBASE_ENABLED_EVENT
  AUTO_SQUASH_ENABLED_EVENT
  BASE_REF_CHANGED_EVENT
  BASE_REF_DELETED_EVENT
  BASE_REF_FORCE_PUSHED_EVENT
  CLOSED_EVENT
  COMMENT_DELETED_EVENT
  CONNECTED_EVENT
  CONVERTED_NOTE_TO_ISSUE_EVENT
  CONVERTED_TO_DISCUSSION_EVENT
  CONVERT_TO_DRAFT_EVENT
  CROSS_REFERENCED_EVENT
  DEMILESTONED_EVENT
  DEPLOYED_EVENT
  DEPLOYMENT_ENVIRONMENT_CHANGED_EVENT
  DISCONNECTED_EVENT
  HEAD_REF_DELETED_EVENT
  HEAD_REF_FORCE_PUSHED_EVENT
  HEAD_REF_RESTORED_EVENT
  ISSUE_COMMENT
  LABELED_EVENT
  LOCKED_EVENT
  MARKED_AS_DUPLICATE_EVENT
  MENTIONED_EVENT
  MERGED_EVENT
  MILESTONED_EVENT
  MOVED_COLUMNS_IN_PROJECT_EVENT
  PARENT_ISSUE_ADDED_EVENT
  PARENT_ISSUE_REMOVED_EVENT
  PINNED_EVENT
  PULL_REQUEST_COMMIT
  PULL_REQUEST_COMMIT_COMMENT_THREAD
  PULL_REQUEST_REVIEW
  PULL_REQUEST_REVIEW_THREAD
  PULL_REQUEST_REVISION_MARKER
  READY_FOR_REVIEW_EVENT
  REFERENCED_EVENT
  REMOVED_FROM_MERGE_QUEUE_EVENT
  REMOVED_FROM_PROJECT_EVENT
  RENAMED_TITLE_EVENT
  REOPENED_EVENT
  REVIEW_DISMISSED_EVENT
  REVIEW_REQUESTED_EVENT
  REVIEW_REQUEST_REMOVED_EVENT
  SUBSCRIBED_EVENT
  SUB_ISSUE_ADDED_EVENT
  SUB_ISSUE_REMOVED_EVENT
  TRANSFERRED_EVENT
  UNASSIGNED_EVENT
  UNLABELED_EVENT
  UNLOCKED_EVENT
  UNMARKED_AS_DUPLICATE_EVENT
  UNPINNED_EVENT
  UNSUBSCRIBED_EVENT
  USER_BLOCKED_EVENT
}

union PullRequestTimelineItems =
  | ClosedEvent
  | ConvertToDraftEvent
  | IssueComment
  | HeadRefForcePushedEvent
  | LabeledEvent
  | MergedEvent
  | PullRequestCommit
  | PullRequestReview
  | ReadyForReviewEvent
  | RenamedTitleEvent
  | ReopenedEvent
  | ReviewDismissedEvent
  | UnlabeledEvent

type PullRequestTimelineItemsConnection {
  edges: [PullRequestTimelineItemsEdge]
  nodes: [PullRequestTimelineItems]
  pageInfo: PageInfo!
  totalCount: Int!
}

type PullRequestTimelineItemsEdge {
  cursor: String!
  node: PullRequestTimelineItems
}

type PullRequestCommit implements Node {
  id: ID!
  commit: Commit!
}

type Commit implements Node & GitObject {
  id: ID!
  oid: GitObjectID!
  committedDate: DateTime!
  statusCheckRollup: StatusCheckRollup
}

type Blob implements Node & GitObject {
  id: ID!
  oid: GitObjectID!
  text: String
}

type StatusCheckRollup implements Node {
  id: ID!
  contexts(
    after: String
    before: String
    first: Int
    last: Int
  ): StatusCheckRollupContextConnection!
}

union StatusCheckRollupContext = CheckRun | StatusContext

type StatusCheckRollupContextConnection {
  edges: [StatusCheckRollupContextEdge]
  nodes: [StatusCheckRollupContext]
  pageInfo: PageInfo!
  totalCount: Int!
}

type StatusCheckRollupContextEdge {
  cursor: String!
  node: StatusCheckRollupContext
}

enum CheckStatusState {
  COMPLETED
  IN_PROGRESS
  PENDING
  QUEUED
  REQUESTED
  WAITING
}

enum CheckConclusionState {
  ACTION_REQUIRED
  CANCELLED
  FAILURE
  NEUTRAL
  SKIPPED
  STALE
  STARTUP_FAILURE
  SUCCESS
  TIMED_OUT
}

enum StatusState {
  ERROR
  EXPECTED
  FAILURE
  PENDING
  SUCCESS
}

type CheckRun implements Node {
  id: ID!
  databaseId: Int
  name: String!
  status: CheckStatusState!
  conclusion: CheckConclusionState
  startedAt: DateTime
  completedAt: DateTime
}

type StatusContext implements Node {
  id: ID!
  context: String!
  state: StatusState!
  createdAt: DateTime!
}

enum PullRequestReviewState {
  APPROVED
  CHANGES_REQUESTED
  COMMENTED
  DISMISSED
  PENDING
}

type PullRequestReview implements Node {
  id: ID!
  databaseId: Int
  author: Actor
  authorAssociation: CommentAuthorAssociation!
  body: String!
  state: PullRequestReviewState!
  commit: Commit
  createdAt: DateTime!
  submittedAt: DateTime
}

type Label implements Node {
  id: ID!
  name: String!
}

type LabeledEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
  label: Label!
}

type UnlabeledEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
  label: Label!
}

type ReadyForReviewEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
}

type ConvertToDraftEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
}

type ClosedEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
}

type ReopenedEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
}

"""Never held by the simulator: a history has no force-push of its own."""
type HeadRefForcePushedEvent implements Node {
  id: ID!
  actor: Actor
  afterCommit: Commit
  createdAt: DateTime!
}

type ReviewDismissedEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
  previousReviewState: PullRequestReviewState!
  review: PullRequestReview
}

type RenamedTitleEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
  currentTitle: String!
  previousTitle: String!
}

type MergedEvent implements Node {
  id: ID!
  actor: Actor
  createdAt: DateTime!
  """The merge commit."""
  commit: Commit
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
