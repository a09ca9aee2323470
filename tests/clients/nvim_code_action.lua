-- Neovim (0.7+) headless client for the EditSeq server: open a Python file, wait for the model, ask for code
-- actions at a line, apply the one with the expected title (resolving it first when it carries no edit) and check
-- the buffer. Run as:
--   nvim --headless --clean -u NONE -c "luafile tests/clients/nvim_code_action.lua"
-- with EDITSEQ_CMD (JSON list), EDITSEQ_FILE, EDITSEQ_MODEL, EDITSEQ_LINE (0-based), EDITSEQ_TITLE and
-- EDITSEQ_EXPECT (a file holding the expected buffer) in the environment. Exits 0 on success, 1 with a reason.

local function fail(message)
  io.stderr:write("nvim client: " .. message .. "\n")
  vim.cmd("cquit 1")
end

local function main()
  local cmd = vim.fn.json_decode(os.getenv("EDITSEQ_CMD"))
  local file = os.getenv("EDITSEQ_FILE")
  local line = tonumber(os.getenv("EDITSEQ_LINE"))
  local title = os.getenv("EDITSEQ_TITLE")
  local expect = table.concat(vim.fn.readfile(os.getenv("EDITSEQ_EXPECT")), "\n")

  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start_client({
    name = "editseq",
    cmd = cmd,
    root_dir = vim.fn.fnamemodify(file, ":h"),
    -- Neovim's core client does not advertise workspace/configuration: settings go in initializationOptions.
    init_options = {
      editseq = { modelPath = os.getenv("EDITSEQ_MODEL"), temperature = 0, prefetch = false, logging = false },
    },
  })
  if not client_id then return fail("could not start the server") end
  vim.lsp.buf_attach_client(bufnr, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  if not vim.wait(30000, function() return client.initialized end, 50) then
    return fail("the server did not initialize")
  end

  -- Asking for code actions while the model loads gets a disabled "model loading" answer; poll until it is ready.
  local state = nil
  vim.wait(60000, function()
    local reply = client.request_sync("workspace/executeCommand", { command = "editseq.status", arguments = {} }, 5000, bufnr)
    state = reply and reply.result
    return state and (state.state == "ready" or state.state == "error")
  end, 200)
  if not (state and state.state == "ready") then return fail("the model is not ready: " .. vim.inspect(state)) end

  local position = { line = line, character = 0 }
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = position, ["end"] = position },
    context = { diagnostics = {} },
  }
  local responses, request_error = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, 60000)
  if not responses then return fail("codeAction request failed: " .. tostring(request_error)) end
  local chosen, titles = nil, {}
  for _, response in pairs(responses or {}) do
    if response.err then table.insert(titles, "error: " .. vim.inspect(response.err)) end
    for _, action in ipairs(response.result or {}) do
      table.insert(titles, action.title)
      if action.title == title then chosen = action end
    end
  end
  if not chosen then
    return fail("no action titled '" .. title .. "' among: " .. table.concat(titles, " | ") .. "\n" .. vim.inspect(responses))
  end
  if not chosen.edit then
    local resolved = client.request_sync("codeAction/resolve", chosen, 10000, bufnr)
    if not (resolved and resolved.result and resolved.result.edit) then return fail("resolve returned no edit") end
    chosen = resolved.result
  end
  vim.lsp.util.apply_workspace_edit(chosen.edit, client.offset_encoding or "utf-16")
  local got = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
  if vim.trim(got) ~= vim.trim(expect) then return fail("buffer after the edit:\n" .. got) end
  print("nvim client: applied '" .. title .. "'")
  vim.lsp.stop_client(client_id)
  vim.cmd("qall!")
end

local ok, err = pcall(main)
if not ok then fail(tostring(err)) end
