// Read-only server state that is one query each: the agent's model and commands, the
// templates, a notebook's audit log. The notebook list has its own module (it is polled).

import { useQuery } from '@tanstack/react-query'
import { agent } from './agent'
import { BLANK_TEMPLATE, listTemplates } from './hexa'
import { queryKeys } from './queryClient'
import type { AgentInfo } from './types'

/** The agent's model and the commands it understands; `me.model` until the server says. */
export function useAgentInfo(model: string): AgentInfo {
  const query = useQuery({ queryKey: queryKeys.agentInfo(model), queryFn: agent.info, staleTime: Infinity })
  return query.data ?? { model, builtin: false, commands: [], tools: [] }
}

/** The templates for a new notebook: null while loading, "blank" alone when they cannot be read. */
export function useTemplates() {
  const query = useQuery({ queryKey: queryKeys.templates, queryFn: listTemplates })
  return {
    templates: query.data ?? (query.isError ? [BLANK_TEMPLATE] : null),
    error: query.error,
  }
}

/** A notebook's audit log. A finished agent turn invalidates it (see useTurnStream). */
export function useAudit(notebookId: string) {
  return useQuery({ queryKey: queryKeys.audit(notebookId), queryFn: () => agent.audit(notebookId) })
}
