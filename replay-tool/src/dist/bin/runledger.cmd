@echo off
rem Launcher of the runledger command in the distribution on Windows: only a Java runtime (17+) is needed.
rem It runs the command with the JVM flags Chronicle Queue needs on this java (dev.runledger.ledger.JvmFlags).
setlocal EnableDelayedExpansion
set "RUNLEDGER_HOME=%~dp0.."
set "JAVA_CMD=java"
if defined JAVA_HOME set "JAVA_CMD=%JAVA_HOME%\bin\java"
set "FLAGS="
for /f "usebackq delims=" %%f in (`"%JAVA_CMD%" -cp "%RUNLEDGER_HOME%\lib\*" dev.runledger.ledger.JvmFlags`) do set "FLAGS=!FLAGS! %%f"
"%JAVA_CMD%" %FLAGS% %RUNLEDGER_JAVA_OPTS% -cp "%RUNLEDGER_HOME%\lib\*" dev.runledger.tool.RunLedger %*
exit /b %ERRORLEVEL%
