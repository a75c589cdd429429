// Renaming and deleting a notebook from the list: the cached list changes at once, a toast
// says what failed, and the list is read again either way.

import { useMutation, useQueryClient } from '@tanstack/react-query'
import { notebooks as api } from '../api/hexa'
import { queryKeys } from '../api/queryClient'
import type { NotebookSummary } from '../api/types'
import { useToast } from '../components/Toasts'

export function useNotebookActions({ onDeleted }: { onDeleted: (notebookId: string) => void }) {
  const client = useQueryClient()
  const toast = useToast()
  const setList = (fn: (list: NotebookSummary[]) => NotebookSummary[]) =>
    client.setQueryData<NotebookSummary[]>(queryKeys.notebookList, (old) => (old ? fn(old) : old))
  const refreshList = () => void client.invalidateQueries({ queryKey: queryKeys.notebookList })

  const renaming = useMutation({
    mutationFn: ({ notebook, name }: { notebook: NotebookSummary; name: string }) => api.rename(notebook.notebook_id, name),
    // The open tab takes the new name from the list (useOpenTabs follows it).
    onSuccess: (updated, { notebook }) =>
      setList((list) => list.map((n) => (n.notebook_id === notebook.notebook_id ? updated : n))),
    onError: (err, { notebook }) => toast.error(`Could not rename “${notebook.name}”`, err),
    onSettled: refreshList,
  })

  const deleting = useMutation({
    mutationFn: (notebook: NotebookSummary) => api.remove(notebook.notebook_id),
    onSuccess: (_, notebook) => {
      onDeleted(notebook.notebook_id)
      setList((list) => list.filter((n) => n.notebook_id !== notebook.notebook_id))
      toast.ok(`Deleted “${notebook.name}”`)
    },
    onError: (err, notebook) => toast.error(`Could not delete “${notebook.name}”`, err),
    onSettled: refreshList,
  })

  return {
    /** Whether the rename went through (the failure is already toasted). */
    rename: (notebook: NotebookSummary, name: string): Promise<boolean> =>
      renaming.mutateAsync({ notebook, name }).then(
        () => true,
        () => false,
      ),
    remove: (notebook: NotebookSummary): Promise<void> =>
      deleting.mutateAsync(notebook).then(
        () => undefined,
        () => undefined,
      ),
  }
}
