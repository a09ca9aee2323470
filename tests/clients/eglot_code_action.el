;;; eglot_code_action.el --- Emacs eglot batch client for the EditSeq server -*- lexical-binding: t -*-
;; Open a Python file, wait for the model, ask for code actions at a line, apply the one with the expected title
;; through eglot's own workspace-edit code, and check the buffer. Run as:
;;   emacs --batch -Q -l tests/clients/eglot_code_action.el
;; with EDITSEQ_CMD (JSON list), EDITSEQ_FILE, EDITSEQ_MODEL, EDITSEQ_LINE (0-based), EDITSEQ_TITLE and
;; EDITSEQ_EXPECT (a file holding the expected buffer) in the environment. Exits 0 on success, 1 with a reason.

;; -Q skips Debian's site start-up, which is what puts elpa-* packages (eglot and its newer project/xref) on the
;; load path; do it here. Elsewhere eglot comes with Emacs (29+) or from package.el.
(dolist (dir (file-expand-wildcards "/usr/share/emacs/site-lisp/elpa/*"))
  (add-to-list 'load-path dir))
(require 'package)
(package-initialize)
(require 'json)
(require 'eglot)

(defun editseq-fail (fmt &rest args)
  (princ (concat "eglot client: " (apply #'format fmt args) "\n") #'external-debugging-output)
  (kill-emacs 1))

(defun editseq-wait (predicate seconds what)
  (let ((deadline (+ (float-time) seconds)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline) (editseq-fail "timed out waiting for %s" what))
      (accept-process-output nil 0.1))))

(condition-case err
    (let* ((cmd (append (json-read-from-string (getenv "EDITSEQ_CMD")) nil))
           (file (getenv "EDITSEQ_FILE"))
           (line (string-to-number (getenv "EDITSEQ_LINE")))
           (title (getenv "EDITSEQ_TITLE"))
           (expect (with-temp-buffer (insert-file-contents (getenv "EDITSEQ_EXPECT")) (buffer-string)))
           (eglot-sync-connect t)
           (eglot-connect-timeout 60))
      (setq-default eglot-workspace-configuration
                    `(:editseq (:modelPath ,(getenv "EDITSEQ_MODEL") :temperature 0
                                :prefetch :json-false :logging :json-false)))
      (find-file file)
      (python-mode)
      (eglot '(python-mode) (cons 'transient default-directory) 'eglot-lsp-server cmd "python")
      (let ((server (eglot-current-server)))
        (unless server (editseq-fail "eglot did not connect"))
        (eglot-signal-didChangeConfiguration server)
        (editseq-wait
         (lambda ()
           (equal "ready" (plist-get (jsonrpc-request server :workspace/executeCommand
                                                      '(:command "editseq.status" :arguments []))
                                     :state)))
         60 "the model")
        (let* ((position (list :line line :character 0))
               (actions (jsonrpc-request server :textDocument/codeAction
                                         (list :textDocument (eglot--TextDocumentIdentifier)
                                               :range (list :start position :end position)
                                               :context (list :diagnostics []))))
               (chosen (seq-find (lambda (a) (equal (plist-get a :title) title)) actions)))
          (unless chosen
            (editseq-fail "no action titled %S among %S" title (mapcar (lambda (a) (plist-get a :title)) actions)))
          (unless (plist-get chosen :edit)
            (setq chosen (jsonrpc-request server :codeAction/resolve chosen)))
          (eglot--apply-workspace-edit (plist-get chosen :edit))
          (unless (equal (string-trim (buffer-string)) (string-trim expect))
            (editseq-fail "buffer after the edit:\n%s" (buffer-string)))
          (princ (format "eglot client: applied %S\n" title))
          (ignore-errors (eglot-shutdown server))
          (kill-emacs 0))))
  (error (editseq-fail "%S" err)))
