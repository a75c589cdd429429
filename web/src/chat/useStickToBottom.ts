// Keep the newest message in view unless the person scrolled up to read; a turn they start
// brings them back to it.

import { useLayoutEffect, useRef, type DependencyList, type UIEvent } from 'react'

/** `content`: what, when it changes, may have grown the element. */
export function useStickToBottom<T extends HTMLElement>(content: DependencyList) {
  const ref = useRef<T>(null)
  const stick = useRef(true)

  useLayoutEffect(() => {
    const el = ref.current
    if (el && stick.current) el.scrollTop = el.scrollHeight
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, content)

  return {
    ref,
    onScroll: (e: UIEvent<T>) => {
      const el = e.currentTarget
      stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40
    },
    /** Stick to the bottom again, from the next change of the content on. */
    follow: () => {
      stick.current = true
    },
  }
}
