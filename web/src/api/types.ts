// The wire contract: every reply and WebSocket event of Hexa's API under the names of the
// server's OpenAPI document. ./schema.d.ts is generated from it (`make web-types`; `make
// lint` fails when it is not current); this module only names its parts.

import type { components } from './schema'

type Schemas = components['schemas']

// Notebooks, sign-in, templates, generation.
export type NotebookSummary = Schemas['NotebookSummary']
export type NotebookStatus = NotebookSummary['status']
export type Me = Schemas['Me']
export type TemplateInfo = Schemas['TemplateInfo']
export type OpenResponse = Schemas['OpenResponse']
export type CloseResponse = Schemas['CloseResponse']
export type CodeResponse = Schemas['CodeResponse']
export type CellsReport = Schemas['CellsReport']
export type CellInfo = Schemas['CellInfo']
export type CreatedNotebook = Schemas['CreatedNotebook']
export type GeneratedNotebook = Schemas['GeneratedNotebook']

// The agent.
export type AgentInfo = Schemas['AgentInfo']
export type Command = Schemas['Command']
export type ChatReply = Schemas['ChatReply']
export type ToolCall = Schemas['ToolCall']
export type CallStatus = ToolCall['status']
export type PendingApproval = Schemas['PendingApproval']
export type CellChange = Schemas['CellChange']
export type ChatHistory = Schemas['ChatHistory']
export type ChatLine = Schemas['ChatLine']
export type AuditLog = Schemas['AuditLog']
export type AuditLine = Schemas['AuditLine']
export type UndoResult = Schemas['UndoResult']

/** One message of `WS /api/ws/{notebook_id}`, told apart by `type`. */
export type NotebookEvent = Schemas['NotebookEvent']
export type NotebookEventType = NotebookEvent['type']

// Error replies.
export type ErrorOut = Schemas['ErrorOut']
/** A 409/429 for a cap: `limit` names the setting (`max_notebooks_per_user`, `max_processes`). */
export type LimitErrorOut = Schemas['LimitErrorOut']
/** A 422: invalid fields, or notebook text marimo refuses (then with `diagnostics`). */
export type UnprocessableOut = Schemas['UnprocessableOut']
export type ValidationIssue = Schemas['ValidationIssue']

/** One of marimo's findings in a 422's `diagnostics` (or Hexa's, for a Mermaid chart). */
export type Diagnostic = Schemas['Diagnostic']
