// Assistant text as markdown, sanitised, with code highlighted. Only a few languages are
// registered to keep the bundle small; others render as plain code.

import DOMPurify from 'dompurify'
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import json from 'highlight.js/lib/languages/json'
import python from 'highlight.js/lib/languages/python'
import sql from 'highlight.js/lib/languages/sql'
import { Marked } from 'marked'
import { memo, useMemo } from 'react'

hljs.registerLanguage('python', python)
hljs.registerLanguage('sql', sql)
hljs.registerLanguage('json', json)
hljs.registerLanguage('bash', bash)

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const md = new Marked({
  gfm: true,
  breaks: true,
  renderer: {
    // Raw HTML in a reply is text: `<id>` in a command or `<module>` in a traceback must
    // show, not vanish as an unknown tag.
    html({ text }) {
      return escape(text)
    },
    code({ text, lang }) {
      const language = (lang ?? '').trim().split(/\s+/)[0].toLowerCase() || 'python'
      const known = hljs.getLanguage(language)
      const body = known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escape(text)
      return `<pre class="code-block"><code class="hljs language-${escape(language)}">${body}</code></pre>`
    },
  },
})

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank')
    node.setAttribute('rel', 'noopener noreferrer')
  }
})

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const html = useMemo(() => DOMPurify.sanitize(md.parse(text, { async: false }) as string), [text])
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />
})
