// Server state lives in one react-query cache. Its keys are flat and distinct, so that
// invalidating one of them (the notebook list after every open or close) never refetches
// another by prefix.

import { QueryClient } from '@tanstack/react-query'

export const queryClient = new QueryClient({
  defaultOptions: {
    // Errors are shown as they come and retried by the person (or the next poll): a silent
    // retry would only delay them. Focus alone is no reason to refetch.
    // `always`: a request is made even when the browser says it is offline, so that it
    // fails with the client's own readable message instead of waiting, paused.
    queries: { retry: false, refetchOnWindowFocus: false, networkMode: 'always' },
    mutations: { retry: false, networkMode: 'always' },
  },
})

export const queryKeys = {
  me: ['me'] as const,
  notebookList: ['notebook-list'] as const,
  templates: ['templates'] as const,
  agentInfo: (model: string) => ['agent-info', model] as const,
  audit: (notebookId: string) => ['audit', notebookId] as const,
}
